#ifndef SWARM_NETWORK_LAB_H
#define SWARM_NETWORK_LAB_H

/// Opens (creating it) the TAP device `name` inside the network namespace whose file is
/// `namespace_path` (`/run/netns/NAME`), without packet information, non-blocking. With
/// `offloads`, every frame read or written starts with a 10-byte `virtio_net_hdr` and the device
/// takes TCP segments of up to 64 KiB with their checksums left to the receiver (as between
/// virtual machines). Returns the descriptor, or -errno.
int swarm_open_tap(const char *namespace_path, const char *name, int offloads);

/// A new socket of `domain` and `type` inside the network namespace `namespace_path`: it binds,
/// listens and connects there, whichever thread uses it. Returns the descriptor, or -errno.
int swarm_socket_in(const char *namespace_path, int domain, int type);

#endif
