// A QEMU TCG plugin that records which guest-physical pages the vCPUs store to: validate's exact record of the
// pages that changed between its two dumps, so a page changed and changed back between them is still seen.
// Built by the lab (gcc -shared), loaded with -plugin PATH,socket=S,pages=N. Over the Unix socket S it takes one
// command per line, meant to be sent while the guest is paused:
//   start        forget what was recorded and record from now on -> "ok"
//   save PATH    write one byte per page (1: stored to) to PATH    -> "ok COUNT" (pages recorded)
//   stop         record no more                                  -> "ok"
// Only stores by the vCPUs are seen: the MMU's own accessed/dirty bit updates and device DMA are not. Every guest
// memory access calls into the plugin (QEMU 7.2 does not filter callbacks by direction), so the guest runs about
// 20-30% slower while not recording and about 3 times slower while recording.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

// The plugin API (version 1, QEMU 4.2 to 8.x) as documented in QEMU's include/qemu/qemu-plugin.h. Debian ships
// no header for it, so the few declarations this plugin needs are written out here.
typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
struct qemu_plugin_hwaddr;
typedef struct {
  const char *target_name;
  struct {
    int min;
    int cur;
  } version;
  bool system_emulation;
} qemu_info_t;
enum { CB_NO_REGS = 0 };
enum { MEM_W = 2 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*mem_cb)(unsigned int, qemu_plugin_meminfo_t, uint64_t, void *);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_trans_cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *, mem_cb, int flags, int rw, void *);
unsigned int qemu_plugin_mem_size_shift(qemu_plugin_meminfo_t);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t);
struct qemu_plugin_hwaddr *qemu_plugin_get_hwaddr(qemu_plugin_meminfo_t, uint64_t);
bool qemu_plugin_hwaddr_is_io(const struct qemu_plugin_hwaddr *);
uint64_t qemu_plugin_hwaddr_phys_addr(const struct qemu_plugin_hwaddr *);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

static uint8_t *written;
static uint64_t pages;
static volatile int recording;

static void mark(qemu_plugin_meminfo_t info, uint64_t vaddr) {
  struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
  if (hw == NULL || qemu_plugin_hwaddr_is_io(hw)) return;
  uint64_t page = qemu_plugin_hwaddr_phys_addr(hw) >> 12;
  if (page < pages) written[page] = 1;
}

static void on_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *unused) {
  (void)vcpu;
  (void)unused;
  if (!recording || !qemu_plugin_mem_is_store(info)) return;
  mark(info, vaddr);
  uint64_t last = vaddr + (1u << qemu_plugin_mem_size_shift(info)) - 1;
  // A store across a page boundary: the second page has its own physical address.
  if ((last >> 12) != (vaddr >> 12)) mark(info, last);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  (void)id;
  size_t n = qemu_plugin_tb_n_insns(tb);
  for (size_t i = 0; i < n; i++)
    qemu_plugin_register_vcpu_mem_cb(qemu_plugin_tb_get_insn(tb, i), on_store, CB_NO_REGS, MEM_W, NULL);
}

static int save(const char *path, uint64_t *count) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  uint64_t done = 0;
  while (done < pages) {
    ssize_t n = write(fd, written + done, pages - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    done += (uint64_t)n;
  }
  *count = 0;
  for (uint64_t p = 0; p < pages; p++) *count += written[p];
  return close(fd);
}

static void answer(int client, const char *line) {
  char reply[320];
  if (strcmp(line, "start") == 0) {
    memset(written, 0, pages);
    recording = 1;
    snprintf(reply, sizeof reply, "ok\n");
  } else if (strcmp(line, "stop") == 0) {
    recording = 0;
    snprintf(reply, sizeof reply, "ok\n");
  } else if (strncmp(line, "save ", 5) == 0) {
    uint64_t count = 0;
    if (save(line + 5, &count) == 0)
      snprintf(reply, sizeof reply, "ok %llu\n", (unsigned long long)count);
    else
      snprintf(reply, sizeof reply, "error %s\n", strerror(errno));
  } else {
    snprintf(reply, sizeof reply, "error unknown command\n");
  }
  size_t length = strlen(reply);
  if (write(client, reply, length) != (ssize_t)length) return;
}

static void serve(int client) {
  char line[4096];
  size_t used = 0;
  for (;;) {
    ssize_t n = read(client, line + used, sizeof line - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
    char *end;
    while ((end = memchr(line, '\n', used)) != NULL) {
      *end = '\0';
      answer(client, line);
      used -= (size_t)(end + 1 - line);
      memmove(line, end + 1, used);
    }
    if (used == sizeof line - 1) break;
  }
  close(client);
}

static void *listen_loop(void *arg) {
  int server = (int)(intptr_t)arg;
  for (;;) {
    int client = accept(server, NULL, NULL);
    if (client < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    serve(client);
  }
}

static int listen_at(const char *path) {
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof address.sun_path) return -1;
  strcpy(address.sun_path, path);
  unlink(path);
  int server = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (server < 0) return -1;
  if (bind(server, (struct sockaddr *)&address, sizeof address) != 0 || listen(server, 4) != 0) {
    close(server);
    return -1;
  }
  return server;
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  (void)info;
  const char *socket_path = NULL;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "socket=", 7) == 0) socket_path = argv[i] + 7;
    if (strncmp(argv[i], "pages=", 6) == 0) pages = strtoull(argv[i] + 6, NULL, 10);
  }
  if (socket_path == NULL || pages == 0) {
    fprintf(stderr, "qemu-write-log: needs socket=PATH and pages=N\n");
    return -1;
  }
  written = calloc(pages, 1);
  int server = listen_at(socket_path);
  if (written == NULL || server < 0) {
    fprintf(stderr, "qemu-write-log: cannot listen at %s: %s\n", socket_path, strerror(errno));
    return -1;
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, listen_loop, (void *)(intptr_t)server) != 0) return -1;
  pthread_detach(thread);
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  return 0;
}
