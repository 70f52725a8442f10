/**
 * A conversation as Markdown, for people: a heading per message naming who spoke, text as
 * written (it is Markdown already, as models write it), what is code or data — tool arguments
 * and results, encrypted reasoning — in fenced blocks that no content can close, and sources as
 * links whose text and target are escaped. Not meant to be parsed back: JSON Lines is for that.
 */
import type { Schemas } from '../contract/types.ts';

type Message = Schemas['Message'];
type Part = Schemas['ContentPart'];

const roles: Record<Message['role'], string> = {
  system: 'System',
  developer: 'Developer',
  user: 'User',
  assistant: 'Assistant',
  tool: 'Tool',
};

export function markdownHeader(session: Schemas['Session']): string {
  const title = session.title === null ? 'Untitled session' : inline(session.title);
  return `# ${title}\n\n_Session ${session.id} of ${inline(session.user_id)}, created ${session.created_at}; the current branch._\n`;
}

export function markdownMessage(message: Message): string {
  const notes = [
    message.model && `model ${inline(message.model)}`,
    message.status !== 'completed' && message.status,
    message.finish_reason && message.finish_reason !== 'stop' && `finish: ${message.finish_reason}`,
  ].filter(Boolean);
  const heading = `### ${roles[message.role]}${notes.length ? ` _(${notes.join(', ')})_` : ''}`;
  const parts = message.content.map(part);
  return `\n${heading}\n\n${parts.join('\n\n')}${parts.length ? '\n' : ''}`;
}

function part(content: Part): string {
  switch (content.type) {
    case 'text':
      return content.text;
    case 'refusal':
      return `> **Refused:** ${quoted(content.text)}`;
    case 'reasoning':
      return content.text !== undefined ? `> _Reasoning:_ ${quoted(content.text)}` : '> _Reasoning (encrypted)_';
    case 'image':
      return content.url !== undefined ? `![image](${target(content.url)})` : `_Image \`${code(content.file_id ?? '')}\`_`;
    case 'file': {
      const name = inline(content.filename ?? content.url ?? content.file_id ?? 'file');
      return content.url !== undefined ? `📎 [${name}](${target(content.url)})` : `📎 ${name} (\`${code(content.file_id ?? '')}\`)`;
    }
    case 'tool_call':
      return `**Tool call** \`${code(content.name)}\` (\`${code(content.call_id)}\`):\n\n${fenced(JSON.stringify(content.arguments, null, 2), 'json')}`;
    case 'tool_result':
      return `**Tool result** (\`${code(content.call_id)}\`${content.is_error ? ', error' : ''}):\n\n${fenced(content.output)}`;
    case 'source': {
      const label = inline(content.title ?? content.url ?? content.document_id ?? 'source');
      const link = content.url !== undefined ? `[${label}](${target(content.url)})` : label;
      const id = content.document_id !== undefined ? ` (\`${code(content.document_id)}\`)` : '';
      const snippet = content.snippet !== undefined ? `\n>\n> ${quoted(content.snippet)}` : '';
      return `> **Source:** ${link}${id}${snippet}`;
    }
  }
}

/** A fence longer than any run of backticks in the text: nothing inside can close it. */
function fenced(text: string, language = ''): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((run) => run[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${text}\n${fence}`;
}

/** Text on one line where Markdown would read its punctuation as markup (titles, names, labels). */
function inline(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[\\`*_{}[\]()<>#+!|~]/g, '\\$&');
}

/** Text inside a blockquote: every line of it stays in the quote. */
function quoted(text: string): string {
  return text.replace(/\r?\n/g, '\n> ');
}

/** A code span's content: backticks would end it early. */
function code(text: string): string {
  return text.replace(/`/g, "'").replace(/[\r\n]+/g, ' ');
}

/** A link target in angle brackets, which may then hold anything but <, > and line ends. */
function target(url: string): string {
  return `<${url.replace(/[<>\s]/g, (character) => encodeURIComponent(character))}>`;
}
