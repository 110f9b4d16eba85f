# dingate: runs first at every boot (kept tiny; the application starts in main.py)
import gc

gc.collect()
