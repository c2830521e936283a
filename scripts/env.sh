# Source me: environment for running nethub from the project venv (MPI for NEURON).
_NH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_NH_ROOT/.venv/bin:$PATH"
if [ -e "$_NH_ROOT/.venv/lib/libmpi.so.12" ]; then
  export MPI_LIB_NRN_PATH="$_NH_ROOT/.venv/lib/libmpi.so.12"
fi
export OMP_NUM_THREADS=1
export NEURON_MODULE_OPTIONS="${NEURON_MODULE_OPTIONS:--nogui}"
