// Snappy raw blocks through the C API of Google's libsnappy (Debian's libsnappy-dev, linked statically), written
// into buffers the caller owns. The npm `snappy` package returns a new buffer per call: an AVML image of 2 MiB
// blocks makes 32 of them per block, garbage that V8 counts late, so peak RSS grew by tens of MiB. Here nothing is
// allocated per call. Also the CRC-32C the framing format checks each chunk with: the npm @node-rs/crc32 module
// alone costs 3.5 MiB of RSS when loaded, this one nothing measurable.
#include <node_api.h>
#include <snappy-c.h>
#include <stdint.h>
#include <string.h>

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), from its definition: a byte table, or the SSE4.2 crc32
// instruction (the same polynomial) where the CPU has it.
static uint32_t crc_table[256];
static int have_sse42;

static void make_crc_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc32c_table(const uint8_t *p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  while (n--) crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const uint8_t *p, size_t n) {
  uint64_t crc = 0xFFFFFFFFu;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    memcpy(&word, p, 8);
    crc = __builtin_ia32_crc32di(crc, word);
  }
  uint32_t crc32 = (uint32_t)crc;
  while (n--) crc32 = __builtin_ia32_crc32qi(crc32, *p++);
  return ~crc32;
}
#endif

static uint32_t crc32c(const uint8_t *p, size_t n) {
#if defined(__x86_64__)
  if (have_sse42) return crc32c_sse42(p, n);
#endif
  return crc32c_table(p, n);
}

static int bytes_of(napi_env env, napi_value value, char **data, size_t *length) {
  napi_typedarray_type type;
  napi_value arraybuffer;
  size_t byte_offset;
  return napi_get_typedarray_info(env, value, &type, length, (void **)data, &arraybuffer, &byte_offset) == napi_ok &&
         type == napi_uint8_array;
}

// compress(input, output) -> bytes written to output; output must hold maxCompressedLength(input.length) bytes.
static napi_value compress(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  char *input, *output;
  size_t input_length, output_length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      !bytes_of(env, argv[0], &input, &input_length) || !bytes_of(env, argv[1], &output, &output_length)) {
    napi_throw_type_error(env, NULL, "snappy.compress(input: Uint8Array, output: Uint8Array)");
    return NULL;
  }
  if (output_length < snappy_max_compressed_length(input_length)) {
    napi_throw_range_error(env, NULL, "snappy.compress: output smaller than maxCompressedLength(input)");
    return NULL;
  }
  size_t written = output_length;
  if (snappy_compress(input, input_length, output, &written) != SNAPPY_OK) {
    napi_throw_error(env, NULL, "snappy.compress failed");
    return NULL;
  }
  napi_value result;
  napi_create_int64(env, (int64_t)written, &result);
  return result;
}

// uncompress(input, output) -> bytes written to output, or -1 if input is not a valid block that fits in output.
static napi_value uncompress(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  char *input, *output;
  size_t input_length, output_length, needed;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 ||
      !bytes_of(env, argv[0], &input, &input_length) || !bytes_of(env, argv[1], &output, &output_length)) {
    napi_throw_type_error(env, NULL, "snappy.uncompress(input: Uint8Array, output: Uint8Array)");
    return NULL;
  }
  int64_t written = -1;
  if (snappy_uncompressed_length(input, input_length, &needed) == SNAPPY_OK && needed <= output_length &&
      snappy_uncompress(input, input_length, output, &needed) == SNAPPY_OK)
    written = (int64_t)needed;
  napi_value result;
  napi_create_int64(env, written, &result);
  return result;
}

// crc32c(input) -> the CRC-32C of input (not masked), as an unsigned 32-bit number.
static napi_value crc32c_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  char *input;
  size_t input_length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      !bytes_of(env, argv[0], &input, &input_length)) {
    napi_throw_type_error(env, NULL, "snappy.crc32c(input: Uint8Array)");
    return NULL;
  }
  napi_value result;
  napi_create_uint32(env, crc32c((const uint8_t *)input, input_length), &result);
  return result;
}

// maxCompressedLength(n) -> the most bytes compress() may write for n input bytes.
static napi_value max_compressed_length(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  int64_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, argv[0], &length) != napi_ok || length < 0) {
    napi_throw_type_error(env, NULL, "snappy.maxCompressedLength(bytes)");
    return NULL;
  }
  napi_value result;
  napi_create_int64(env, (int64_t)snappy_max_compressed_length((size_t)length), &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  make_crc_table();
#if defined(__x86_64__)
  __builtin_cpu_init();
  have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
  napi_property_descriptor methods[] = {
      {"compress", NULL, compress, NULL, NULL, NULL, napi_default, NULL},
      {"uncompress", NULL, uncompress, NULL, NULL, NULL, napi_default, NULL},
      {"crc32c", NULL, crc32c_of, NULL, NULL, NULL, napi_default, NULL},
      {"maxCompressedLength", NULL, max_compressed_length, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
