// glibc's allocator settings (mallopt); absent on platforms without <malloc.h>.
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
