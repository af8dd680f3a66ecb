// Public surface of src/config: import from here, not from the files behind it.

export { EMBEDDED_DEFAULT_YAML, EMBEDDED_FILE, formatKey, loadConfig, parseConfig, validateOnly } from './load.js';
export { checkSipUri } from './schema.js';
export type * from './types.js';
