// GraphQL Code Generator: typed operations for the saved operations of playground/
// (and playground/fragments when it exists), from the committed schema.graphql.
// Run from tests/clients: `npx graphql-codegen --config codegen.ts`.
import { existsSync } from 'node:fs';

import type { CodegenConfig } from '@graphql-codegen/cli';

// The saved operations, plus this suite's extra documents (a fragment, directives).
const documents = ['../../playground/operations/*.graphql', 'documents/*.graphql'];
if (existsSync('../../playground/fragments')) {
  documents.push('../../playground/fragments/*.graphql');
}

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents,
  overwrite: true,
  generates: {
    'generated/graphql.ts': {
      plugins: ['typescript-operations'],
      config: {
        // Every custom scalar of the schema must be mapped here: `strictScalars` makes
        // codegen fail on a new one instead of typing it `any`.
        strictScalars: true,
        scalars: {
          DateTime: 'string', // RFC 3339, e.g. "2026-01-31T12:00:00Z"
          JSON: 'unknown', // any JSON value
        },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
