#define _GNU_SOURCE
#include "network_lab.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/// What is made inside a namespace: a descriptor, or -errno.
typedef int (*maker)(const void *context);

/// Runs `make` with the calling thread in the namespace `namespace_path`, then brings the thread
/// back to its own namespace. Network namespaces are per thread, so nothing else moves.
static int inside(const char *namespace_path, maker make, const void *context) {
    int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) return -errno;
    int target = open(namespace_path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
        int error = errno;
        close(own);
        return -error;
    }
    int result = setns(target, CLONE_NEWNET) == 0 ? make(context) : -errno;
    // A thread left in a lab's namespace would be worse than a failed call.
    if (setns(own, CLONE_NEWNET) != 0) _exit(70);
    close(target);
    close(own);
    return result;
}

struct tap_kind {
    const char *name;
    int offloads;
};

static int make_tap(const void *context) {
    const struct tap_kind *kind = context;
    int descriptor = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (descriptor < 0) return -errno;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, kind->name, IFNAMSIZ - 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI | (kind->offloads ? IFF_VNET_HDR : 0);
    unsigned offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    if (ioctl(descriptor, TUNSETIFF, &request) != 0 || (kind->offloads && ioctl(descriptor, TUNSETOFFLOAD, offloads) != 0)) {
        int error = errno;
        close(descriptor);
        return -error;
    }
    return descriptor;
}

int swarm_open_tap(const char *namespace_path, const char *name, int offloads) {
    struct tap_kind kind = {name, offloads};
    return inside(namespace_path, make_tap, &kind);
}

struct socket_kind {
    int domain;
    int type;
};

static int make_socket(const void *context) {
    const struct socket_kind *kind = context;
    int descriptor = socket(kind->domain, kind->type | SOCK_CLOEXEC, 0);
    return descriptor < 0 ? -errno : descriptor;
}

int swarm_socket_in(const char *namespace_path, int domain, int type) {
    struct socket_kind kind = {domain, type};
    return inside(namespace_path, make_socket, &kind);
}
