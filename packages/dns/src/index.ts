// Public API of @homing/dns: exported by name, nothing else.
export {};
