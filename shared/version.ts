// The product version, injected by the esbuild bundle; "dev" when run from source.
declare const VSO_VERSION: string | undefined;
export const VERSION: string = typeof VSO_VERSION === 'string' ? VSO_VERSION : 'dev';
