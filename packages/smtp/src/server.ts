// Public API of @homing/smtp/server.
export {};
