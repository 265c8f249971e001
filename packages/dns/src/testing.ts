// Public API of @homing/dns/testing.
export {};
