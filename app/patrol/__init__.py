"""网格巡查: grid workers' patrol log, the 督查组's overview and spot checks, and the monthly assessment."""
