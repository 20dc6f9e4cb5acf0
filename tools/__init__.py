"""Developer tooling: the project-managed PostgreSQL cluster and system set-up."""
