import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { SessionConnections } from '../../lib/index.js';
import type { AdapterKind } from './http-app.js';

/** GraphQL with subscriptions over graphql-ws: Apollo on Express (graphql-ws hooks), Mercurius on Fastify (its own server). */
export function graphqlWsModule(adapter: AdapterKind) {
  if (adapter === 'fastify') {
    return GraphQLModule.forRootAsync<MercuriusDriverConfig>({
      driver: MercuriusDriver,
      inject: [SessionConnections],
      useFactory: (connections: SessionConnections) => ({
        autoSchemaFile: true,
        subscription: connections.mercurius(),
      }),
    });
  }
  return GraphQLModule.forRootAsync<ApolloDriverConfig>({
    driver: ApolloDriver,
    inject: [SessionConnections],
    useFactory: (connections: SessionConnections) => ({
      autoSchemaFile: true,
      context: ({ req, res, extra }: { req: unknown; res: unknown; extra: unknown }) => ({ req, res, extra }),
      subscriptions: { 'graphql-ws': connections.graphqlWs() },
    }),
  });
}
