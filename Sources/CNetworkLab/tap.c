#define _GNU_SOURCE
#include "network_lab.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int swarm_open_tap(const char *namespace_path, const char *name) {
    int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) return -errno;
    int target = open(namespace_path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
        int error = errno;
        close(own);
        return -error;
    }
    int result;
    if (setns(target, CLONE_NEWNET) != 0) {
        result = -errno;
    } else {
        result = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (result < 0) {
            result = -errno;
        } else {
            struct ifreq request;
            memset(&request, 0, sizeof request);
            strncpy(request.ifr_name, name, IFNAMSIZ - 1);
            request.ifr_flags = IFF_TAP | IFF_NO_PI;
            if (ioctl(result, TUNSETIFF, &request) != 0) {
                int error = errno;
                close(result);
                result = -error;
            }
        }
        // Back to where the thread was; a thread left in the lab's namespace would be worse
        // than a failed open.
        if (setns(own, CLONE_NEWNET) != 0) _exit(70);
    }
    close(target);
    close(own);
    return result;
}
