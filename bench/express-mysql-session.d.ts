// express-mysql-session ships no types; this is the part the benchmark uses.
declare module 'express-mysql-session' {
  import session from 'express-session';

  interface MySQLStoreOptions {
    host?: string;
    port?: number;
    user?: string;
    password?: string;
    database?: string;
    connectionLimit?: number;
    maxIdle?: number;
    createDatabaseTable?: boolean;
    clearExpired?: boolean;
  }

  interface MySQLStore extends session.Store {
    onReady(): Promise<void>;
    close(): Promise<void>;
  }

  function MySQLStoreFactory(expressSession: typeof session): new (options: MySQLStoreOptions) => MySQLStore;
  export default MySQLStoreFactory;
}
