// Checks a request the mini-program sent against an OpenAPI 3.0 document:
// the operation exists (method and path template), and the JSON body
// matches the operation's request schema (required fields, types, enums,
// array bounds, and no property the schema does not name).

export interface Doc { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } }
interface Operation { requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> }; parameters?: { name: string; in: string; required?: boolean }[] }
export interface Schema {
  $ref?: string; type?: string; required?: string[]; properties?: Record<string, Schema>; items?: Schema;
  enum?: unknown[]; minItems?: number; maxItems?: number; format?: string; nullable?: boolean; additionalProperties?: boolean | Schema;
}

function resolve(doc: Doc, s: Schema): Schema {
  while (s.$ref) {
    const name = s.$ref.replace('#/components/schemas/', '');
    s = doc.components.schemas[name];
    if (!s) throw new Error('unresolved $ref ' + name);
  }
  return s;
}

export function validate(doc: Doc, schema: Schema, v: unknown, at: string, out: string[]): void {
  const s = resolve(doc, schema);
  if (v === null) {
    if (!s.nullable) out.push(`${at}: null`);
    return;
  }
  if (s.enum && !s.enum.includes(v)) out.push(`${at}: ${JSON.stringify(v)} not in ${JSON.stringify(s.enum)}`);
  switch (s.type) {
    case 'object': {
      if (typeof v !== 'object' || Array.isArray(v)) { out.push(`${at}: not an object`); return; }
      const o = v as Record<string, unknown>;
      for (const r of s.required || []) if (o[r] === undefined) out.push(`${at}.${r}: required`);
      if (s.properties) {
        for (const k of Object.keys(o)) {
          if (o[k] === undefined) continue;
          const ps = s.properties[k];
          if (!ps) out.push(`${at}.${k}: not in the schema`);
          else validate(doc, ps, o[k], `${at}.${k}`, out);
        }
      }
      return;
    }
    case 'array':
      if (!Array.isArray(v)) { out.push(`${at}: not an array`); return; }
      if (s.minItems !== undefined && v.length < s.minItems) out.push(`${at}: fewer than ${s.minItems} items`);
      if (s.maxItems !== undefined && v.length > s.maxItems) out.push(`${at}: more than ${s.maxItems} items`);
      if (s.items) v.forEach((x, i) => validate(doc, s.items!, x, `${at}[${i}]`, out));
      return;
    case 'string':
      if (typeof v !== 'string') out.push(`${at}: not a string`);
      else if (s.format === 'date-time' && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) out.push(`${at}: not an RFC 3339 date-time`);
      return;
    case 'integer':
      if (!Number.isInteger(v)) out.push(`${at}: not an integer`);
      return;
    case 'number':
      if (typeof v !== 'number') out.push(`${at}: not a number`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') out.push(`${at}: not a boolean`);
      return;
  }
}

/** findOperation returns the documented path template that path matches for method, or null. */
export function findOperation(doc: Doc, method: string, path: string): { template: string; op: Operation } | null {
  for (const template of Object.keys(doc.paths)) {
    const re = new RegExp('^' + template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$');
    const op = doc.paths[template][method.toLowerCase()];
    if (re.test(path) && op) return { template, op };
  }
  return null;
}

/** checkRequest lists what is wrong with one request; empty when it is a documented call. */
export function checkRequest(doc: Doc, method: string, path: string, body: unknown): string[] {
  const found = findOperation(doc, method, path);
  if (!found) return [`${method} ${path}: not a documented operation`];
  const out: string[] = [];
  const rb = found.op.requestBody;
  if (!rb) {
    if (body !== undefined) out.push(`${method} ${found.template}: sends a body the operation does not take`);
    return out;
  }
  if (body === undefined) {
    if (rb.required) out.push(`${method} ${found.template}: the body is required`);
    return out;
  }
  const schema = rb.content['application/json']?.schema;
  if (!schema) return [`${method} ${found.template}: no JSON body documented`];
  validate(doc, schema, body, `${method} ${found.template} body`, out);
  return out;
}
