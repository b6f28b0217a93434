import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { Request, Response } from 'express';

/**
 * `ApolloDriver` on Express without `@as-integrations/express5` (not installed here): the same
 * mounting as the driver's own `registerExpress`, with Apollo's documented integration API
 * (`executeHTTPGraphQLRequest`) in place of `expressMiddleware`. Apps install the package instead.
 */
export class ExpressApolloDriver extends ApolloDriver {
  override async registerExpress(options: ApolloDriverConfig): Promise<void> {
    const { path, typeDefs, resolvers, schema } = options;
    const httpAdapter = this.httpAdapterHost.httpAdapter;
    const server = new ApolloServer({ typeDefs, resolvers, schema, ...options } as never);
    await server.start();
    const context = options.context as (args: { req: Request; res: Response }) => Promise<object>;
    httpAdapter.use(path!, async (req: Request, res: Response) => {
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      const result = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: req.method.toUpperCase(),
          headers,
          search: new URL(req.url, 'http://localhost').search,
          body: req.body ?? {},
        },
        context: () => context({ req, res }),
      });
      for (const [name, value] of result.headers) res.setHeader(name, value);
      res.status(result.status ?? 200);
      if (result.body.kind === 'complete') {
        res.send(result.body.string);
        return;
      }
      for await (const chunk of result.body.asyncIterator) res.write(chunk);
      res.end();
    });
    (this as unknown as { apolloServer: ApolloServer }).apolloServer = server;
  }
}
