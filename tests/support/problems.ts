import { expect } from 'vitest';
import type { ApiResponse } from './client.ts';

export type FieldError = { in: string; pointer: string; message: string };

/** The members every problem document carries (SPEC.md, "Errors"). */
export const problemMembers = ['type', 'title', 'status', 'detail', 'instance', 'error', 'timestamp', 'request_id'];

/** A 400 validation problem whose errors[] name exactly this one input (and, if given, say this). */
export function expectInvalid(response: ApiResponse, field: { in: string; pointer: string; message?: RegExp }): void {
  expect(response.status, response.text).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.body.type).toBe('/problems/validation-failed');
  const errors = response.body.errors as FieldError[];
  expect([...new Set(errors.map((error) => `${error.in} ${error.pointer}`))]).toEqual([`${field.in} ${field.pointer}`]);
  if (field.message) {
    for (const error of errors) expect(error.message).toMatch(field.message);
  }
  expect(response.body.detail).toEqual(expect.any(String));
}
