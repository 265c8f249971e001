// Public API of @homing/smtp/client.
export {};
