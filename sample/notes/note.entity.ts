import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A note a signed-in user wrote. */
@Entity('sample_notes')
export class Note {
  @PrimaryGeneratedColumn()
  id!: number;

  @Index()
  @Column({ name: 'user_id', type: 'int' })
  userId!: number;

  @Column({ type: 'varchar', length: 500 })
  text!: string;

  @Column({
    name: 'created_at',
    type: 'bigint',
    transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) },
  })
  createdAt!: number;
}
