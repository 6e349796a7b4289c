/*
 * core/main.c - the `fault` executable: everything lives in libfaultcore,
 * so plugins and the program share one copy of the host.
 */
int fault_main(int argc, char **argv);

int main(int argc, char **argv)
{
    return fault_main(argc, argv);
}
