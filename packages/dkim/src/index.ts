// Public API of @homing/dkim: exported by name, nothing else.
export {};
