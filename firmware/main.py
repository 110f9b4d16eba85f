# dingate: start the gateway (gateway/app.py runs one asyncio loop with named tasks)
import gateway.app

gateway.app.main()
