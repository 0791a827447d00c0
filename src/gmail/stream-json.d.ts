/** stream-json 1.9 (a streaming JSON tokenizer) ships no types: the tokenizer, as raw-stream.ts uses it. */
declare module 'stream-json/Parser.js' {
  import { Transform } from 'node:stream';
  export default class Parser extends Transform {
    constructor(options?: { packKeys?: boolean; packStrings?: boolean; packNumbers?: boolean; streamValues?: boolean });
  }
}
