import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A user of the sample app (the library stores only sessions; users are the app's own). */
@Entity('sample_users')
export class User {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 64, unique: true })
  username!: string;

  @Column({ name: 'password_hash', type: 'varchar', length: 200 })
  passwordHash!: string;
}
