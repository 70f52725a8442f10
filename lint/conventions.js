// Redocly lint rules for conventions the configurable rules cannot express (see redocly.yaml).

/** Keywords that document a schema without changing what it accepts. */
const annotations = new Set(['description', 'title', 'examples', 'example', 'deprecated', '$comment']);

/** A schema's shape: its validation keywords, recursively, without annotations or x- extensions. */
function shape(value) {
  if (Array.isArray(value)) return value.map(shape);
  if (value === null || typeof value !== 'object') return value;
  const kept = Object.keys(value)
    .filter((key) => !annotations.has(key) && !key.startsWith('x-'))
    .sort()
    .map((key) => [key, shape(value[key])]);
  return Object.fromEntries(kept);
}

const isTopLevelComponent = (pointer) => /^#\/components\/schemas\/[^/]+$/.test(pointer);

/**
 * An inline schema that says exactly what a component of components/schemas says must reference
 * it instead: two copies drift apart, and generated clients get two types for one thing.
 */
function NoInlineCopyOfComponent() {
  const components = new Map();
  return {
    Root: {
      enter(root) {
        for (const [name, schema] of Object.entries(root.components?.schemas ?? {})) {
          components.set(JSON.stringify(shape(schema)), name);
        }
      },
    },
    Schema: {
      enter(schema, ctx) {
        if (isTopLevelComponent(ctx.location.pointer) || schema.$ref !== undefined) return;
        const name = components.get(JSON.stringify(shape(schema)));
        if (name) {
          ctx.report({
            message: `This inline schema repeats components/schemas/${name}: use { $ref: '#/components/schemas/${name}' }.`,
            location: ctx.location,
          });
        }
      },
    },
  };
}

/**
 * Every problem `type` an example shows must be explained in the API description (the table of
 * problem types), so a client meeting one can look it up.
 */
function ProblemTypesDocumented() {
  let description = '';
  const seen = [];
  const collect = (value, ctx) => {
    const type = value && typeof value === 'object' ? value.type : undefined;
    if (typeof type === 'string' && type.startsWith('/problems/')) seen.push({ type, location: ctx.location });
  };
  return {
    Info: {
      enter(info) {
        description = info.description ?? '';
      },
    },
    Example: {
      enter(example, ctx) {
        collect(example.value, ctx);
      },
    },
    MediaType: {
      enter(mediaType, ctx) {
        if (mediaType.example !== undefined) collect(mediaType.example, ctx);
      },
    },
    Root: {
      leave(_root, ctx) {
        for (const { type, location } of seen) {
          if (!description.includes(`\`${type}\``)) {
            ctx.report({ message: `Problem type ${type} is not explained in info.description.`, location });
          }
        }
      },
    },
  };
}

export default function conventions() {
  return {
    id: 'conventions',
    rules: {
      oas3: {
        'no-inline-copy-of-component': NoInlineCopyOfComponent,
        'problem-types-documented': ProblemTypesDocumented,
      },
    },
  };
}
