"""What every machine needs: frozen time, coverage targets, profiles, step traces and replay."""
