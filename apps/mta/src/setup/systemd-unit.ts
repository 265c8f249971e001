// The systemd unit quickstart writes: homing as its own user, the file system read-only except
// its state directory, port 25 without root (systemd.exec(5), capabilities(7)).

/** What the unit needs to know. */
export interface UnitInput {
  /** The command that runs homing, e.g. `/usr/bin/node /usr/lib/node_modules/@homing/mta/bin/homing.js`. */
  command: string;
  config: string;
  state: string;
}

/** The text of contrib/systemd/homing.service. */
export function systemdUnit(input: UnitInput): string {
  return [
    '[Unit]',
    'Description=Homing mail server',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${input.command} start --config ${input.config}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure',
    'User=homing',
    'Group=homing',
    // Ports 25, 465 and 587 are below 1024: the one capability needed, and nothing else.
    'AmbientCapabilities=CAP_NET_BIND_SERVICE',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE',
    'NoNewPrivileges=true',
    'ProtectSystem=strict',
    `ReadWritePaths=${input.state}`,
    // The default state directory is systemd's own: made at start, owned by User=.
    ...(input.state === '/var/lib/homing' ? ['StateDirectory=homing', 'StateDirectoryMode=0700'] : []),
    'ProtectHome=true',
    'PrivateTmp=true',
    'PrivateDevices=true',
    'ProtectKernelTunables=true',
    'ProtectKernelModules=true',
    'ProtectControlGroups=true',
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
    'RestrictNamespaces=true',
    'LockPersonality=true',
    'SystemCallArchitectures=native',
    'UMask=0077',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
