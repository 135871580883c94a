/*
 * MinHash of text_near: minima over every width-gram of a text's code points of
 * (mix(key) * a + b) >> 32, in one pass without temporaries (numpy broadcasting needed
 * 128 x 8 bytes of scratch per 5-gram and took 45 s on a 16 MB text; this takes about a second).
 * Compiled ahead of time so hashing a text loads no JIT compiler. The formulas are the stored
 * signal's definition: changing them changes every stored text_near hash.
 */
#include "../_buffers.h"
#include <stdint.h>

/* Odd base of the polynomial 5-gram key: its powers stay odd, hence invertible mod 2^64, so
 * every character counts. (0x110000 looked natural but 0x110000**4 == 0 mod 2^64: the first
 * character vanished and unrelated texts came out 0.045 closer than their Jaccard.) */
#define BASE 0x9E3779B97F4A7C15ull

static uint64_t gram_key(const uint32_t *codes, Py_ssize_t width) {
    uint64_t key = 0;
    for (Py_ssize_t offset = 0; offset < width; offset++) key = key * BASE + codes[offset];
    /* splitmix64 finaliser: spreads the structured 5-gram numbers over 64 bits */
    key = (key ^ (key >> 30)) * 0xBF58476D1CE4E5B9ull;
    key = (key ^ (key >> 27)) * 0x94D049BB133111EBull;
    return key ^ (key >> 31);
}

/* minhash_codes(codes: uint32, width, multipliers: uint64, offsets: uint64, out: uint64) */
static PyObject *minhash_codes(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer v[4];
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "expected 5 arguments");
        return NULL;
    }
    Py_ssize_t width = PyLong_AsSsize_t(args[1]);
    if (width == -1 && PyErr_Occurred()) return NULL;
    static const struct { int arg; Py_ssize_t itemsize; int writable; const char *name; } want[4] = {
        {0, 4, 0, "codes"}, {2, 8, 0, "multipliers"}, {3, 8, 0, "offsets"}, {4, 8, 1, "out"}};
    for (int i = 0; i < 4; i++) {
        if (get_buffer(args[want[i].arg], &v[i], want[i].itemsize, -1, want[i].writable,
                       want[i].name) < 0) {
            release(v, i);
            return NULL;
        }
    }
    Py_ssize_t n = v[0].len / 4, slots = v[3].len / 8;
    if (width < 0 || width > n || (width == 0 && n > 0) || v[1].len != v[3].len ||
        v[2].len != v[3].len) {
        PyErr_SetString(PyExc_ValueError, "width must be min(shingle, len(codes)); "
                                          "multipliers, offsets and out of equal length");
        release(v, 4);
        return NULL;
    }
    const uint32_t *codes = v[0].buf;
    const uint64_t *mul = v[1].buf, *add = v[2].buf;
    uint64_t *minima = v[3].buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t slot = 0; slot < slots; slot++) minima[slot] = UINT64_MAX;
    for (Py_ssize_t start = 0; start < n - width + 1; start++) { /* an empty text: one key, 0 */
        uint64_t key = gram_key(codes + start, width);
        for (Py_ssize_t slot = 0; slot < slots; slot++) {
            uint64_t hashed = (key * mul[slot] + add[slot]) >> 32;
            if (hashed < minima[slot]) minima[slot] = hashed;
        }
    }
    Py_END_ALLOW_THREADS
    release(v, 4);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"minhash_codes", (PyCFunction)(void (*)(void))minhash_codes, METH_FASTCALL,
     "minhash_codes(codes, width, multipliers, offsets, out): out[slot] = min over width-grams "
     "of (mix(key) * multipliers[slot] + offsets[slot]) >> 32"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_minhash",
                                        "MinHash kernel of text_near.", -1, methods,
                                        NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__minhash(void) { return PyModule_Create(&module_def); }
