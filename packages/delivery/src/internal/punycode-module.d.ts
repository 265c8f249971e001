// The punycode package ships no types; this declares the function we use from it.
// We import 'punycode/punycode.js' by path because a bare 'punycode' resolves to Node's deprecated built-in.
declare module 'punycode/punycode.js' {
  const punycode: { toASCII(domain: string): string; toUnicode(domain: string): string };
  export default punycode;
}
