#ifndef SWARM_NETWORK_LAB_H
#define SWARM_NETWORK_LAB_H

/// Opens (creating it) the TAP device `name` inside the network namespace whose file is
/// `namespace_path` (`/run/netns/NAME`), without packet information, non-blocking; the calling
/// thread returns to its own namespace before this returns. Returns the descriptor, or -errno.
int swarm_open_tap(const char *namespace_path, const char *name);

#endif
