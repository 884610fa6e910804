"""The practice's public face (issue 16): practitioner profiles published by their own choice,
the professional website at /p/<practice>/, online booking requests, refer-a-colleague."""
