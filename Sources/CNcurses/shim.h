#ifndef SWARM_CNCURSES_SHIM_H
#define SWARM_CNCURSES_SHIM_H

// The wide-character API (wget_wch, mvwaddnwstr) needs these before curses.h.
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/curses.h>
#include <langinfo.h>
#include <locale.h>
#include <wchar.h>
#include <pthread.h>

// A GNU extension that <pthread.h> declares only under _GNU_SOURCE.
int pthread_setname_np(pthread_t thread, const char *name);

/// Names the calling thread (at most 15 bytes), as `top -H` and /proc show it.
static inline void swarm_name_this_thread(const char *name) { pthread_setname_np(pthread_self(), name); }

// Attribute macros do not import into Swift, and `stdscr` is a global that strict concurrency
// refuses; these wrappers expose both.
static inline WINDOW *swarm_stdscr(void) { return stdscr; }
static inline int swarm_lines(void) { return LINES; }
static inline int swarm_cols(void) { return COLS; }
static inline int swarm_colors(void) { return COLORS; }
static inline attr_t swarm_a_bold(void) { return A_BOLD; }
static inline attr_t swarm_a_reverse(void) { return A_REVERSE; }
static inline attr_t swarm_a_dim(void) { return A_DIM; }
static inline attr_t swarm_a_underline(void) { return A_UNDERLINE; }
static inline attr_t swarm_a_normal(void) { return A_NORMAL; }
static inline attr_t swarm_color_pair(short pair) { return COLOR_PAIR(pair); }
static inline int swarm_set_attr(WINDOW *window, attr_t attributes) { return wattrset(window, (int)attributes); }

#endif
