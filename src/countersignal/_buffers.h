/*
 * Buffer arguments of the C kernels (index/_kernels.c, signals/_minhash.c): numpy arrays and
 * other buffer objects taken as C-contiguous blocks of known item size, checked before use.
 */
#ifndef COUNTERSIGNAL_BUFFERS_H
#define COUNTERSIGNAL_BUFFERS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* A contiguous buffer of `count` items of `itemsize` bytes (count < 0: any count). On failure
 * an exception names the argument and nothing is held. */
static int get_buffer(PyObject *obj, Py_buffer *view, Py_ssize_t itemsize, Py_ssize_t count,
                      int writable, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->itemsize != itemsize || (count >= 0 && view->len != count * itemsize) ||
        view->len % itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd items of %zd bytes, got %zd bytes of %zd",
                     name, count, itemsize, view->len, view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static void release(Py_buffer *views, int n) {
    for (int i = 0; i < n; i++) PyBuffer_Release(&views[i]);
}

#endif
