// Public API of @homing/queue: exported by name, nothing else.
export {};
