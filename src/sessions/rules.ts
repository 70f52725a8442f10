/**
 * The session rules JSON Schema cannot state; everything else is declared in openapi.yaml.
 * Rules sessions share with messages (metadata, storable text, merge patches) are in src/rules.ts.
 */
import { isJsonObject } from '../rules.ts';

/** Titles are stored trimmed (the contract's TitleInput says so, and its pattern counts the trimmed title). */
export function trimTitle(body: unknown): void {
  if (isJsonObject(body) && typeof body.title === 'string') body.title = body.title.trim();
}
