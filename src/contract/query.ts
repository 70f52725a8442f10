import type { OpenAPIV3_1 } from 'openapi-types';
import qs from 'qs';
import type { FieldError } from '../errors.ts';

/**
 * Parses a query string the way the contract's parameters are written (form style, deepObject
 * for objects), and reports what the parser would otherwise read too generously: an empty
 * deepObject key (`metadata[]=v` is not the key "0") and integers written other than in decimal
 * (ajv's coercion would read `0x10` as 16 and ` 10` as 10).
 */
export function queryParser(parameters: OpenAPIV3_1.ParameterObject[]) {
  const integers = parameters
    .filter((parameter) => parameter.in === 'query' && (parameter.schema as OpenAPIV3_1.SchemaObject | undefined)?.type === 'integer')
    .map((parameter) => parameter.name);

  return function parseQuery(querystring: string): { query: Record<string, unknown>; errors: FieldError[] } {
    const query = qs.parse(querystring, { parseArrays: false }) as Record<string, unknown>;
    const errors: FieldError[] = [];
    for (const pair of querystring.split('&')) {
      const name = safeDecode(pair.split('=')[0] ?? '');
      const emptyKey = /^([^[\]]+)\[\]/.exec(name);
      if (emptyKey) {
        const parameter = emptyKey[1]!;
        errors.push({ in: 'query', pointer: `/${parameter}`, message: `${parameter} must not have an empty key ([])` });
      }
    }
    for (const name of integers) {
      const values = ([] as unknown[]).concat(query[name] ?? []);
      if (values.some((value) => typeof value !== 'string' || !/^-?\d+$/.test(value))) {
        errors.push({ in: 'query', pointer: `/${name}`, message: `${name} must be an integer written in decimal digits` });
      }
    }
    return { query, errors };
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return text;
  }
}
