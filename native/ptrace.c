// memimage's ptrace binding: stop, inspect and release the threads of a process whose core is being taken.
// Synchronous on purpose: ptrace binds a tracee to the calling thread, so every call must come from the same
// (main) thread. Failures are returned as errno values, never thrown, so the caller decides what they mean.
#include <errno.h>
#include <node_api.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

static int arg_ints(napi_env env, napi_callback_info info, int64_t *out, size_t want) {
  napi_value argv[4];
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) return -1;
  for (size_t i = 0; i < want; i++)
    if (napi_get_value_int64(env, argv[i], &out[i]) != napi_ok) return -1;
  return 0;
}

static napi_value int_value(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

static napi_value bad_arguments(napi_env env) {
  napi_throw_type_error(env, NULL, "ptrace binding: expected integer arguments");
  return NULL;
}

// seize(tid) -> errno: PTRACE_SEIZE then PTRACE_INTERRUPT, so the thread stops without a signal being sent.
static napi_value seize(napi_env env, napi_callback_info info) {
  int64_t a[1];
  if (arg_ints(env, info, a, 1)) return bad_arguments(env);
  pid_t tid = (pid_t)a[0];
  if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) == -1) return int_value(env, errno);
  if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) == -1) {
    int e = errno;
    ptrace(PTRACE_DETACH, tid, NULL, NULL);
    return int_value(env, e);
  }
  return int_value(env, 0);
}

// waitStop(tid, timeoutMs) -> { status, signal, errno }: status "stopped", "exited" or "timeout". `signal` is a
// signal that arrived before the stop and must be given back on detach.
static napi_value wait_stop(napi_env env, napi_callback_info info) {
  int64_t a[2];
  if (arg_ints(env, info, a, 2)) return bad_arguments(env);
  pid_t tid = (pid_t)a[0];
  const char *status_text = "timeout";
  int pending = 0, err = 0;
  struct timespec pause = {0, 1000000};
  for (int64_t waited = 0; waited <= a[1]; waited++) {
    int status = 0;
    pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
    if (r == -1) {
      if (errno == EINTR) continue;
      err = errno;
      status_text = "error";
      break;
    }
    if (r == tid) {
      if (WIFEXITED(status) || WIFSIGNALED(status)) {
        status_text = "exited";
        break;
      }
      if (WIFSTOPPED(status)) {
        int sig = WSTOPSIG(status);
        // PTRACE_INTERRUPT's stop, or a group stop, is reported as an event stop; anything else is a signal
        // delivery stop whose signal is handed back on detach.
        if ((status >> 16) != PTRACE_EVENT_STOP && sig != SIGTRAP) pending = sig;
        status_text = "stopped";
        break;
      }
    }
    nanosleep(&pause, NULL);
  }
  napi_value result, text;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, status_text, NAPI_AUTO_LENGTH, &text);
  napi_set_named_property(env, result, "status", text);
  napi_set_named_property(env, result, "signal", int_value(env, pending));
  napi_set_named_property(env, result, "errno", int_value(env, err));
  return result;
}

// getRegset(tid, type, maxSize) -> Buffer of the size the kernel filled, or an errno number.
static napi_value get_regset(napi_env env, napi_callback_info info) {
  int64_t a[3];
  if (arg_ints(env, info, a, 3) || a[2] <= 0 || a[2] > (1 << 20)) return bad_arguments(env);
  void *data = calloc(1, (size_t)a[2]);
  if (!data) return int_value(env, ENOMEM);
  struct iovec iov = {data, (size_t)a[2]};
  if (ptrace(PTRACE_GETREGSET, (pid_t)a[0], (void *)(uintptr_t)a[1], &iov) == -1) {
    int e = errno;
    free(data);
    return int_value(env, e);
  }
  napi_value buffer;
  void *copy;
  napi_create_buffer_copy(env, iov.iov_len, data, &copy, &buffer);
  free(data);
  return buffer;
}

// detach(tid, signal) -> errno: releases the thread, which resumes (with `signal` delivered if nonzero).
static napi_value detach(napi_env env, napi_callback_info info) {
  int64_t a[2];
  if (arg_ints(env, info, a, 2)) return bad_arguments(env);
  if (ptrace(PTRACE_DETACH, (pid_t)a[0], NULL, (void *)(uintptr_t)a[1]) == -1) return int_value(env, errno);
  return int_value(env, 0);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"seize", NULL, seize, NULL, NULL, NULL, napi_default, NULL},
      {"waitStop", NULL, wait_stop, NULL, NULL, NULL, napi_default, NULL},
      {"getRegset", NULL, get_regset, NULL, NULL, NULL, napi_default, NULL},
      {"detach", NULL, detach, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
