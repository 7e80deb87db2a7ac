// setPipeSize(fd, bytes) -> the pipe's new capacity, or -errno. Node has no fcntl; a FIFO's default 64 KiB lets
// QEMU write only 64 KiB before it must wait for memimage, so a guest dump through it crawls in small steps.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>

static napi_value set_pipe_size(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  int64_t fd, size;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_int64(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &size) != napi_ok) {
    napi_throw_type_error(env, NULL, "setPipeSize(fd, bytes)");
    return NULL;
  }
  int result = fcntl((int)fd, F_SETPIPE_SZ, (int)size);
  napi_value value;
  napi_create_int64(env, result < 0 ? -errno : result, &value);
  return value;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {{"setPipeSize", NULL, set_pipe_size, NULL, NULL, NULL, napi_default, NULL}};
  napi_define_properties(env, exports, 1, methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
