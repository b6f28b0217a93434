// Apollo on Express is Nest's own `ApolloDriver` with `@as-integrations/express5` installed.
// Kept only for test/browser/graphql-client.browser.e2e-spec.ts, which imports this name; delete it
// once that file imports `ApolloDriver` from '@nestjs/apollo'.
export { ApolloDriver as ExpressApolloDriver } from '@nestjs/apollo';
