"""bitcoinzk.da"""
