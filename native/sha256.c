// SHA-256 on libuv's thread pool, through the OpenSSL that Node itself links and exports.
// Node's crypto.Hash.update() runs on the main thread; an image is hashed twice (per range and the whole output),
// so on the main thread the two hashes alone bound the acquisition. Here each update is queued as async work:
// the two hashes run beside the reads and writes, on the second core. One hash's updates must not overlap; the
// caller (src/pipeline/hashing.ts) queues them one after another and keeps each buffer unchanged until its update
// completes.
#include <node_api.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EVP_MD_CTX *ctx;
} hash_state;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref;
  hash_state *state;
  const unsigned char *data;
  size_t length;
  int ok;
} update_job;

static void free_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  hash_state *state = data;
  if (state->ctx) EVP_MD_CTX_free(state->ctx);
  free(state);
}

// create() -> an opaque handle holding a fresh SHA-256 context.
static napi_value create(napi_env env, napi_callback_info info) {
  (void)info;
  hash_state *state = calloc(1, sizeof *state);
  if (!state) {
    napi_throw_error(env, NULL, "sha256: out of memory");
    return NULL;
  }
  state->ctx = EVP_MD_CTX_new();
  if (!state->ctx || EVP_DigestInit_ex(state->ctx, EVP_sha256(), NULL) != 1) {
    free_state(env, state, NULL);
    napi_throw_error(env, NULL, "sha256: EVP_DigestInit_ex failed");
    return NULL;
  }
  napi_value handle;
  napi_create_external(env, state, free_state, NULL, &handle);
  return handle;
}

static void run_update(napi_env env, void *data) {
  (void)env;
  update_job *job = data;
  job->ok = EVP_DigestUpdate(job->state->ctx, job->data, job->length) == 1;
}

static void finish_update(napi_env env, napi_status status, void *data) {
  update_job *job = data;
  napi_value result;
  napi_get_undefined(env, &result);
  if (status == napi_ok && job->ok) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value message, error;
    napi_create_string_utf8(env, "sha256: EVP_DigestUpdate failed", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_reference(env, job->buffer_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

// update(handle, uint8array) -> Promise<void>, resolved once the bytes are hashed on the thread pool.
static napi_value update(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  hash_state *state;
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value arraybuffer;
  size_t byte_offset;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      napi_get_value_external(env, argv[0], (void **)&state) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &type, &length, &data, &arraybuffer, &byte_offset) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "sha256.update(handle, Uint8Array)");
    return NULL;
  }
  update_job *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, "sha256: out of memory");
    return NULL;
  }
  job->state = state;
  job->data = data;
  job->length = length;
  napi_value promise, name;
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_reference(env, argv[1], 1, &job->buffer_ref); // keeps the bytes alive until hashed
  napi_create_string_utf8(env, "memimage:sha256", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, run_update, finish_update, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

// digest(handle) -> Buffer of 32 bytes; the handle is finished afterwards.
static napi_value digest(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  hash_state *state;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_external(env, argv[0], (void **)&state) != napi_ok) {
    napi_throw_type_error(env, NULL, "sha256.digest(handle)");
    return NULL;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_length = 0;
  if (EVP_DigestFinal_ex(state->ctx, md, &md_length) != 1) {
    napi_throw_error(env, NULL, "sha256: EVP_DigestFinal_ex failed");
    return NULL;
  }
  napi_value result;
  void *out;
  napi_create_buffer_copy(env, md_length, md, &out, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"create", NULL, create, NULL, NULL, NULL, napi_default, NULL},
      {"update", NULL, update, NULL, NULL, NULL, napi_default, NULL},
      {"digest", NULL, digest, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
