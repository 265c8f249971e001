// Public API of @homing/smtp: exported by name, nothing else.
export {};
