// Public API of @homing/policy: exported by name, nothing else.
export {};
