// Open MPI, for multi-process training. Its handles (MPI_COMM_WORLD, MPI_BYTE, ...) are macros
// over the addresses of library globals, which Swift cannot import; these accessors return them.
// No logic here: the typed Swift layer is Sources/FNNMPI.
#include <mpi.h>

static inline MPI_Comm fnnpar_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype fnnpar_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype fnnpar_mpi_int(void) { return MPI_INT; }
static inline int fnnpar_mpi_success(void) { return MPI_SUCCESS; }
static inline int fnnpar_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline MPI_Errhandler fnnpar_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline void *fnnpar_mpi_in_place(void) { return MPI_IN_PLACE; }
