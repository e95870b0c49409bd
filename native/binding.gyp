# Built by `seqrec setup native` (src/cli/setup/native.ts), which passes -Dseqrec_arch_flags
# for the host CPU (AVX2/FMA where it has them) and the OpenBLAS include directory.
{
  "variables": {"seqrec_arch_flags%": "-mavx2 -mfma", "seqrec_blas_include%": "/usr/include/x86_64-linux-gnu/openblas-pthread"},
  "targets": [
    {
      "target_name": "seqrec_native",
      "sources": ["seqrec_native.c", "optim.c", "retrieval.c", "embedding.c", "matmul.c", "random.c"],
      "include_dirs": ["<(seqrec_blas_include)"],
      "cflags": ["-O3", "<@(seqrec_arch_flags)", "-fopenmp", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags!": ["-O2"],
      "libraries": ["-lopenblas", "-fopenmp"]
    }
  ]
}
