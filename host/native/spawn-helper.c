/*
 * arbiter-spawn: starts the worker's short programs (git, du) for a few microseconds of CPU each.
 * The Node spawner (host/spawner-child.ts) spent about 1.3 ms of its own CPU on every program
 * (its fork, three pipe streams, the channel); this helper spends under 0.1 ms. It runs what the
 * worker asks, exactly: argv, the whole environment, stdin, an output limit and a time limit,
 * as `child_process.execFile` did (PATH looked up in the program's own environment, signals
 * reset to their defaults, nothing but the three pipes inherited). One difference: glibc's
 * posix_spawn leaves its own two internal signals (32 and 33) ignored in the program, and a
 * glibc program (git, du) installs its handlers for them when it needs them.
 *
 * Frames on stdin (requests) and stdout (replies), every integer a native-endian u32:
 *   request: length, id, timeout ms (0 = none), output limit, argc, envc, input length,
 *            then argc strings (argv[0] is the program), envc "NAME=value" strings, the input;
 *            a string is its length and its bytes.
 *   reply:   length, id, kind (0 exited, 1 killed by a signal, 2 could not start), value (exit
 *            code, signal or errno), overran (0 no, 1 output, 2 time), stdout length, stderr
 *            length, stdout, stderr.
 * When its stdin closes (the worker is gone) it kills what it started and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct buf {
  char *data;
  size_t len, cap;
};

struct job {
  uint32_t id;
  pid_t pid;
  int in_fd, out_fd, err_fd;
  char *input;
  size_t input_len, input_off;
  struct buf out, err;
  size_t limit;
  int64_t deadline; /* ms on the monotonic clock, 0 = none */
  int exited, status, overran, spawn_errno;
};

static struct job **jobs;
static size_t njobs, cap_jobs;
static struct buf requests;

/* Nothing it started outlives it: the worker that asked is gone, or this process cannot go on. */
static void leave(int code) {
  for (size_t i = 0; i < njobs; i++)
    if (!jobs[i]->exited) kill(jobs[i]->pid, SIGKILL);
  _exit(code);
}

static void die(const char *what) {
  (void)!write(2, "arbiter-spawn: ", 15);
  (void)!write(2, what, strlen(what));
  (void)!write(2, "\n", 1);
  leave(2);
}

static void *grow(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) die("out of memory");
  return q;
}

static void append(struct buf *b, const char *data, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->data = grow(b->data, b->cap);
  }
  memcpy(b->data + b->len, data, n);
  b->len += n;
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void write_all(const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      poll(&(struct pollfd){.fd = 1, .events = POLLOUT}, 1, -1);
      continue;
    }
    if (w <= 0) leave(0); /* the worker is gone */
    p += w;
    n -= (size_t)w;
  }
}

static void reply(struct job *j) {
  uint32_t kind = 2, value = (uint32_t)j->spawn_errno;
  if (!j->spawn_errno) {
    kind = WIFSIGNALED(j->status) ? 1 : 0;
    value = kind ? (uint32_t)WTERMSIG(j->status) : (uint32_t)WEXITSTATUS(j->status);
  }
  uint32_t head[7] = {(uint32_t)(24 + j->out.len + j->err.len), j->id, kind, value, (uint32_t)j->overran,
                      (uint32_t)j->out.len, (uint32_t)j->err.len};
  write_all(head, sizeof head);
  write_all(j->out.data, j->out.len);
  write_all(j->err.data, j->err.len);
}

static void stop(struct job *j, int why) {
  if (!j->overran) j->overran = why;
  if (!j->exited) kill(j->pid, SIGKILL);
  close_fd(&j->in_fd);
  close_fd(&j->out_fd);
  close_fd(&j->err_fd);
}

/* Spawns `file` as execvp would, but searching the PATH of the program's own environment. */
static int spawn_in_path(struct job *j, posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, char **argv,
                         char **envp) {
  const char *file = argv[0];
  if (strchr(file, '/')) return posix_spawn(&j->pid, file, fa, at, argv, envp);
  const char *path = "/usr/bin:/bin";
  for (char **e = envp; *e; e++)
    if (!strncmp(*e, "PATH=", 5)) path = *e + 5;
  int seen_eacces = 0;
  for (const char *dir = path;; dir++) {
    const char *end = strchrnul(dir, ':');
    size_t dl = (size_t)(end - dir);
    char *full = grow(NULL, dl + strlen(file) + 3);
    memcpy(full, dl ? dir : ".", dl ? dl : 1);
    strcpy(full + (dl ? dl : 1), "/");
    strcat(full, file);
    int r = posix_spawn(&j->pid, full, fa, at, argv, envp);
    free(full);
    if (r == 0) return 0;
    if (r == EACCES) seen_eacces = 1;
    else if (r != ENOENT && r != ENOTDIR) return r;
    if (!*end) return seen_eacces ? EACCES : ENOENT;
    dir = end;
  }
}

static int start(struct job *j, char **argv, char **envp) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    int e = errno;
    for (int *fd = &in[0]; fd <= &in[1]; fd++) close_fd(fd);
    for (int *fd = &out[0]; fd <= &out[1]; fd++) close_fd(fd);
    for (int *fd = &err[0]; fd <= &err[1]; fd++) close_fd(fd);
    return e;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  int r = spawn_in_path(j, &fa, &at, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  j->in_fd = in[1];
  j->out_fd = out[0];
  j->err_fd = err[0];
  fcntl(j->in_fd, F_SETFL, O_NONBLOCK);
  if (r) {
    close_fd(&j->in_fd);
    close_fd(&j->out_fd);
    close_fd(&j->err_fd);
  } else if (j->input_len == 0) {
    close_fd(&j->in_fd);
  }
  return r;
}

static void free_strings(char **v) {
  for (char **s = v; s && *s; s++) free(*s);
  free(v);
}

/* Reads `n` strings of a request at *p (bounded by end) into a NULL-ended vector; NULL if malformed. */
static char **strings(const char **p, const char *end, uint32_t n) {
  if (n > (size_t)(end - *p) / 4) return NULL;
  char **v = grow(NULL, (n + 1) * sizeof *v);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t len;
    v[i] = NULL;
    if (end - *p < 4) return free_strings(v), NULL;
    memcpy(&len, *p, 4);
    *p += 4;
    if ((size_t)(end - *p) < len || memchr(*p, 0, len)) return free_strings(v), NULL;
    v[i] = strndup(*p, len);
    *p += len;
  }
  v[n] = NULL;
  return v;
}

static void begin(const char *frame, size_t len) {
  uint32_t h[6];
  if (len < sizeof h) die("short request");
  memcpy(h, frame, sizeof h);
  const char *p = frame + sizeof h, *end = frame + len;
  struct job *j = calloc(1, sizeof *j);
  if (!j) die("out of memory");
  j->id = h[0];
  j->limit = h[2];
  j->deadline = h[1] ? now_ms() + h[1] : 0;
  j->in_fd = j->out_fd = j->err_fd = -1;
  char **argv = h[3] ? strings(&p, end, h[3]) : NULL;
  char **envp = argv ? strings(&p, end, h[4]) : NULL;
  if (!envp || (size_t)(end - p) != h[5]) {
    j->spawn_errno = EINVAL; /* an argument with a NUL byte, or a frame the worker never sends */
  } else {
    j->input_len = h[5];
    j->input = grow(NULL, h[5]);
    memcpy(j->input, p, h[5]);
    j->spawn_errno = start(j, argv, envp);
  }
  free_strings(argv);
  free_strings(envp);
  if (j->spawn_errno) j->exited = 1;
  if (njobs == cap_jobs) jobs = grow(jobs, (cap_jobs = cap_jobs * 2 + 8) * sizeof *jobs);
  jobs[njobs++] = j;
}

static void read_requests(int *fd) {
  char chunk[65536];
  ssize_t n = read(*fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) leave(0);
  append(&requests, chunk, (size_t)n);
  size_t off = 0;
  for (;;) {
    uint32_t len;
    if (requests.len - off < 4) break;
    memcpy(&len, requests.data + off, 4);
    if (requests.len - off - 4 < len) break;
    begin(requests.data + off + 4, len);
    off += 4 + (size_t)len;
  }
  memmove(requests.data, requests.data + off, requests.len - off);
  requests.len -= off;
}

static void drain(struct job *j, int *fd, struct buf *b) {
  char chunk[65536];
  ssize_t n = read(*fd, chunk, sizeof chunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close_fd(fd);
    return;
  }
  size_t room = j->limit - b->len;
  append(b, chunk, (size_t)n < room ? (size_t)n : room);
  if ((size_t)n > room) stop(j, 1);
}

static void feed(struct job *j) {
  ssize_t n = write(j->in_fd, j->input + j->input_off, j->input_len - j->input_off);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n < 0) { /* it stopped reading: like execFile, not an error */
    close_fd(&j->in_fd);
    return;
  }
  j->input_off += (size_t)n;
  if (j->input_off == j->input_len) close_fd(&j->in_fd);
}

static void reap(int sfd) {
  struct signalfd_siginfo si;
  while (read(sfd, &si, sizeof si) == sizeof si) {
  }
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
    for (size_t i = 0; i < njobs; i++)
      if (jobs[i]->pid == pid && !jobs[i]->exited) {
        jobs[i]->exited = 1;
        jobs[i]->status = status;
        close_fd(&jobs[i]->in_fd);
      }
}

static void finish_done(void) {
  size_t kept = 0;
  for (size_t i = 0; i < njobs; i++) {
    struct job *j = jobs[i];
    if (j->exited && j->out_fd < 0 && j->err_fd < 0) {
      reply(j);
      free(j->input);
      free(j->out.data);
      free(j->err.data);
      free(j);
    } else {
      jobs[kept++] = j;
    }
  }
  njobs = kept;
}

static void close_inherited(void) {
  if (syscall(SYS_close_range, 3U, ~0U, 0) == 0) return;
  for (int fd = 3; fd < 1024; fd++) close(fd);
}

int main(void) {
  close_inherited();
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  int control = 0;
  if (sfd < 0) die("signalfd failed");
  for (struct pollfd *fds = NULL;;) {
    fds = grow(fds, (2 + 3 * njobs) * sizeof *fds);
    size_t n = 0;
    int64_t next = 0;
    fds[n++] = (struct pollfd){.fd = control, .events = POLLIN};
    fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    for (size_t i = 0; i < njobs; i++) {
      struct job *j = jobs[i];
      fds[n++] = (struct pollfd){.fd = j->in_fd, .events = POLLOUT};
      fds[n++] = (struct pollfd){.fd = j->out_fd, .events = POLLIN};
      fds[n++] = (struct pollfd){.fd = j->err_fd, .events = POLLIN};
      if (j->deadline && (!next || j->deadline < next)) next = j->deadline;
    }
    int64_t left = next ? next - now_ms() : -1;
    int wait = left < 0 ? (next ? 0 : -1) : left > 86400000 ? 86400000 : (int)left;
    if (poll(fds, n, wait) < 0 && errno != EINTR) die("poll failed");
    if (fds[1].revents) reap(sfd);
    size_t before = njobs;
    for (size_t i = 0; i < before; i++) {
      struct job *j = jobs[i];
      struct pollfd *f = &fds[2 + 3 * i];
      if (f[0].revents && j->in_fd >= 0) feed(j);
      if (f[1].revents && j->out_fd >= 0) drain(j, &j->out_fd, &j->out);
      if (f[2].revents && j->err_fd >= 0) drain(j, &j->err_fd, &j->err);
      /* Also after the program exited: a child it left holding its output must not hold the answer. */
      if (j->deadline && now_ms() >= j->deadline) {
        stop(j, 2);
        j->deadline = 0;
      }
    }
    if (fds[0].revents) read_requests(&control);
    finish_done();
  }
}
