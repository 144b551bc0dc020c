"""bitcoinzk.settlement"""
