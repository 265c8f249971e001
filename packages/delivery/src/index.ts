// Public API of @homing/delivery: exported by name, nothing else.
export {};
