"""Word lists and text templates for a mall in mainland China.

Kept apart from the generators so the vocabulary can grow without touching logic.
All store, product and zone text must be encodable in GBK (the legacy POS and the
leasing system export in GBK); a unit test checks it. Brand names are invented.
"""

from __future__ import annotations

CATEGORIES = (
    "fashion", "beauty", "food_beverage", "kids", "sports",
    "electronics", "home", "supermarket", "entertainment", "jewelry",
)
# Store mix of a typical 60-store mall; the first ten picks cover every category.
CATEGORY_WEIGHTS = {
    "fashion": 14, "beauty": 7, "food_beverage": 14, "kids": 5, "sports": 5,
    "electronics": 4, "home": 4, "supermarket": 1, "entertainment": 3, "jewelry": 3,
}
# How often a shopper visits a store of the category, relative to a fashion store.
CATEGORY_VISITS = {
    "fashion": 1.0, "beauty": 1.0, "food_beverage": 3.2, "kids": 0.8, "sports": 0.6,
    "electronics": 0.3, "home": 0.5, "supermarket": 4.0, "entertainment": 1.2, "jewelry": 0.15,
}
CATEGORY_ORDER = (
    "supermarket", "food_beverage", "fashion", "beauty", "sports",
    "kids", "electronics", "jewelry", "home", "entertainment",
)

# zone_id, zone_name, floor, zone_type, counters, share of daily visitors seen there
ZONES = (
    ("Z01", "北门主入口", "L1", "entrance", 2, 0.34),
    ("Z02", "南门入口", "L1", "entrance", 2, 0.24),
    ("Z03", "地铁连廊入口", "B1", "entrance", 2, 0.24),
    ("Z04", "中庭广场", "L1", "atrium", 1, 0.55),
    ("Z05", "B1生鲜超市区", "B1", "retail", 1, 0.25),
    ("Z06", "B1美食街", "B1", "food_court", 1, 0.30),
    ("Z07", "L1国际精品区", "L1", "retail", 1, 0.45),
    ("Z08", "L2时尚女装区", "L2", "retail", 1, 0.35),
    ("Z09", "L3运动数码区", "L3", "retail", 1, 0.25),
    ("Z10", "L4儿童家居区", "L4", "retail", 1, 0.20),
    ("Z11", "L5美食广场", "L5", "food_court", 1, 0.35),
    ("Z12", "L5影院娱乐区", "L5", "retail", 1, 0.20),
    ("Z13", "地下停车场", "B2", "parking", 1, 0.18),
)
CATEGORY_ZONES = {
    "fashion": ("Z07", "Z08", "Z08"),
    "beauty": ("Z07", "Z08"),
    "jewelry": ("Z07",),
    "supermarket": ("Z05",),
    "food_beverage": ("Z06", "Z11", "Z11"),
    "kids": ("Z10",),
    "home": ("Z10",),
    "sports": ("Z09",),
    "electronics": ("Z09",),
    "entertainment": ("Z12",),
}
# (min, max) leased area in square metres
CATEGORY_AREA = {
    "fashion": (80, 420), "beauty": (40, 160), "food_beverage": (60, 450), "kids": (90, 500),
    "sports": (150, 600), "electronics": (80, 350), "home": (120, 700),
    "supermarket": (2500, 6000), "entertainment": (600, 2800), "jewelry": (40, 180),
}

STORE_NAMES = {
    "fashion": ["衣品阁", "素锦", "云裳坊", "都市丽影", "简衣社", "风尚街", "锦瑟年华", "森系小铺",
                "时光衣橱", "绅士堂", "型男馆", "花语女装", "慢生活", "白鹭服饰", "墨客男装", "初见",
                "悦己", "靓影", "拾光", "青衫"],
    "beauty": ["花颜美妆", "雪肌坊", "颜究所", "水润堂", "悦容坊", "美丽日记", "花间集", "凝脂阁",
               "素颜馆", "香氛小筑"],
    "food_beverage": ["茶里茶外", "一点甜", "老北京炸酱面", "川味小馆", "粤式茶餐厅", "江南小笼",
                      "湘味人家", "鼎香火锅", "咖啡时光", "面面俱到", "烤鱼先生", "甜蜜蜜甜品",
                      "寿司之家", "西北风味", "椰子鸡", "兰州牛肉面", "果汁工坊", "披萨工坊",
                      "汤包铺", "云南米线"],
    "kids": ["童趣乐园", "宝贝天地", "小淘气童装", "积木王国", "亲亲宝贝", "小象童书"],
    "sports": ["动力运动", "跑者之家", "极限户外", "活力健身", "飞跃运动", "山野户外"],
    "electronics": ["数码港", "智享生活", "星辰数码", "极客空间", "声临其境"],
    "home": ["家居生活馆", "温馨小屋", "木语家居", "厨房好物", "简居"],
    "supermarket": ["鲜丰超市", "万家福超市"],
    "entertainment": ["星光影城", "欢乐电玩城", "麦霸KTV", "谜境密室"],
    "jewelry": ["金玉满堂", "瑞祥珠宝", "恒信钻石", "宝华金店"],
}
TENANT_CITIES = ("上海", "北京", "广州", "深圳", "杭州", "成都", "南京", "苏州", "武汉", "厦门")
TENANT_KIND = {
    "fashion": "服饰", "beauty": "化妆品", "food_beverage": "餐饮管理", "kids": "母婴用品",
    "sports": "体育用品", "electronics": "电子科技", "home": "家居用品", "supermarket": "超市",
    "entertainment": "文化娱乐", "jewelry": "珠宝首饰",
}
TENANT_WORDS = ("恒泰", "华美", "锦程", "鑫源", "宏图", "永盛", "嘉禾", "新天地", "众信", "瑞丰",
                "盛世", "和美", "汇通", "东方", "金桥", "博雅")

# Products per category: (noun, sub-category slug, typical price in CNY)
PRODUCTS = {
    "fashion": [("连衣裙", "dress", 459), ("衬衫", "top", 299), ("针织衫", "knitwear", 359),
                ("风衣", "outerwear", 899), ("西装外套", "outerwear", 799), ("牛仔裤", "bottoms", 329),
                ("半身裙", "bottoms", 279), ("T恤", "top", 129), ("羽绒服", "outerwear", 1099),
                ("卫衣", "top", 239), ("阔腿裤", "bottoms", 269), ("毛呢大衣", "outerwear", 1299),
                ("丝巾", "accessories", 199), ("腰带", "accessories", 159), ("手提包", "bags", 699),
                ("短靴", "shoes", 599), ("小白鞋", "shoes", 399)],
    "beauty": [("精华液", "skincare", 420), ("面霜", "skincare", 380), ("爽肤水", "skincare", 180),
               ("眼霜", "skincare", 320), ("面膜五片装", "skincare", 99), ("防晒霜", "skincare", 160),
               ("洁面乳", "skincare", 89), ("口红", "makeup", 260), ("粉底液", "makeup", 340),
               ("眼影盘", "makeup", 280), ("气垫粉饼", "makeup", 300), ("淡香水", "fragrance", 580)],
    "food_beverage": [("珍珠奶茶", "beverage", 18), ("杨枝甘露", "beverage", 22),
                      ("美式咖啡", "beverage", 26), ("拿铁", "beverage", 30),
                      ("柠檬茶", "beverage", 16), ("鲜榨橙汁", "beverage", 25),
                      ("牛肉面", "meal", 32), ("小笼包", "meal", 28), ("麻辣烫", "meal", 35),
                      ("烤鱼套餐", "meal", 128), ("火锅双人餐", "meal", 238),
                      ("寿司拼盘", "meal", 88), ("广式烧腊饭", "meal", 38), ("酸菜鱼", "meal", 78),
                      ("芒果班戟", "dessert", 26), ("双皮奶", "dessert", 18), ("蛋挞", "dessert", 9)],
    "kids": [("积木套装", "toys", 299), ("毛绒玩具", "toys", 89), ("遥控汽车", "toys", 199),
             ("拼图", "toys", 59), ("儿童外套", "kids_apparel", 259), ("童装套装", "kids_apparel", 199),
             ("儿童运动鞋", "kids_shoes", 229), ("婴儿推车", "baby", 1299), ("奶瓶", "baby", 129),
             ("绘本", "books", 45)],
    "sports": [("跑步鞋", "shoes", 699), ("篮球鞋", "shoes", 899), ("运动T恤", "apparel", 199),
               ("瑜伽裤", "apparel", 299), ("冲锋衣", "outerwear", 1199), ("运动背包", "bags", 259),
               ("羽毛球拍", "equipment", 399), ("瑜伽垫", "equipment", 129), ("运动袜三双装", "apparel", 59)],
    "electronics": [("智能手机", "phone", 3999), ("蓝牙耳机", "audio", 699), ("平板电脑", "tablet", 2999),
                    ("笔记本电脑", "computer", 5999), ("智能手表", "wearable", 1499),
                    ("充电宝", "accessories", 149), ("数据线", "accessories", 39),
                    ("机械键盘", "accessories", 399), ("无线鼠标", "accessories", 129)],
    "home": [("四件套床品", "bedding", 599), ("乳胶枕", "bedding", 299), ("香薰蜡烛", "decor", 129),
             ("陶瓷餐具套装", "kitchen", 359), ("保温杯", "kitchen", 159), ("收纳箱", "storage", 79),
             ("浴巾", "bath", 99), ("不粘锅", "kitchen", 259), ("空气炸锅", "appliance", 499)],
    "supermarket": [("有机牛奶", "dairy", 69), ("东北大米五公斤", "grocery", 59), ("鸡蛋三十枚", "fresh", 32),
                    ("进口车厘子", "fresh", 99), ("红富士苹果", "fresh", 25), ("矿泉水整箱", "beverage", 36),
                    ("花生油", "grocery", 79), ("酸奶", "dairy", 15), ("洗衣液", "household", 45),
                    ("抽纸", "household", 29), ("零食礼包", "snacks", 88), ("速冻水饺", "frozen", 26),
                    ("全麦面包", "bakery", 16), ("三文鱼", "fresh", 89), ("猪肋排", "fresh", 58)],
    "entertainment": [("电影票", "cinema", 45), ("爆米花套餐", "cinema", 49),
                      ("游戏币一百枚", "arcade", 100), ("欢唱包厢三小时", "karaoke", 198),
                      ("密室逃脱门票", "escape_room", 128), ("亲子乐园门票", "playground", 98)],
    "jewelry": [("足金手链", "gold", 4299), ("足金项链", "gold", 5899), ("钻石戒指", "diamond", 8999),
                ("铂金耳钉", "platinum", 1899), ("黄金吊坠", "gold", 2599), ("珍珠项链", "pearl", 1599),
                ("翡翠手镯", "jade", 6999), ("银饰手镯", "silver", 399)],
}
PRODUCT_MODIFIERS = {
    "fashion": ("经典款", "新款", "修身", "宽松", "法式", "简约", "复古", "通勤", "轻奢", "基础款"),
    "beauty": ("保湿", "修护", "焕亮", "控油", "清爽", "滋润", "限定版", "旅行装"),
    "food_beverage": ("招牌", "大份", "小份", "经典", "加料", "套餐", "特惠"),
    "kids": ("益智", "经典", "新款", "加厚", "安全", "卡通"),
    "sports": ("专业", "轻量", "透气", "减震", "新款", "经典"),
    "electronics": ("旗舰版", "标准版", "青春版", "二代", "三代", "尊享版"),
    "home": ("北欧风", "简约", "加大", "日式", "轻奢", "家用"),
    "supermarket": ("精选", "家庭装", "特价", "进口", "有机", "当季"),
    "entertainment": ("工作日", "周末", "双人", "单人", "亲子", "夜场"),
    "jewelry": ("古法", "经典", "时尚", "婚庆", "生肖", "简约"),
}
COLORS = ("黑色", "白色", "米色", "藏青", "驼色", "酒红", "雾蓝", "灰色", "粉色", "墨绿")
COLORED_CATEGORIES = ("fashion", "sports", "kids")
MULTI_BRAND = {  # categories whose stores sell several brands
    "electronics": ("星耀", "极光", "灵犀", "云驰", "雷鸣"),
    "supermarket": ("田园牧歌", "五谷丰", "清泉", "鲜农", "乐活", "金穗", "海之味"),
    "beauty": ("花颜", "雪肌", "植萃", "水光"),
    "sports": ("飞跃", "劲力", "山野", "疾风"),
}

# People -----------------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
    "万钱严覃武戴莫孔向汤"
)
GIVEN_F = "婷静敏丽娟芳霞燕玲洁欣怡雪琳慧颖佳雨梦思晓诗涵萱悦彤琪瑶璐倩妍蕾馨菲月春兰红梅秀英"
GIVEN_M = "伟强磊军洋勇杰涛明超斌鹏辉浩宇轩俊博然晨子文志建海峰刚平华飞鑫凯航毅翔宁坤林阳健"
GIVEN_ANY = "嘉一佳子晨思雨梓诗可心安乐天星语欣"
TRADITIONAL = {"陈": "陳", "黄": "黃", "张": "張", "刘": "劉", "杨": "楊", "赵": "趙", "吴": "吳",
               "郑": "鄭", "许": "許", "邓": "鄧", "叶": "葉", "苏": "蘇", "冯": "馮", "钟": "鍾"}

CN_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "191", "193", "195", "196", "197", "198", "199",
)
# country: (weight among foreign members, dial prefix + leading digits options, remaining digits)
FOREIGN = {
    "HK": (25, ("+8525", "+8526", "+8529"), 7),
    "TW": (15, ("+8869",), 8),
    "MO": (5, ("+8536",), 7),
    "SG": (8, ("+658", "+659"), 7),
    "MY": (5, ("+601",), 8),
    "US": (12, ("+12", "+13", "+14", "+16", "+17"), 9),
    "CA": (5, ("+14", "+16"), 9),
    "GB": (5, ("+447",), 9),
    "AU": (5, ("+614",), 8),
    "DE": (6, ("+4915", "+4916", "+4917"), 8),
    "FR": (3, ("+336", "+337"), 8),
    "JP": (6, ("+8170", "+8180", "+8190"), 8),
    "KR": (5, ("+8210",), 8),
}
CHINESE_NAMED_COUNTRIES = ("HK", "TW", "MO", "SG", "MY")
WESTERN_NAMES = {  # language: (female first names, male first names, family names)
    "en": (("Emma", "Olivia", "Sophia", "Emily", "Grace", "Chloe", "Lucy"),
           ("James", "Michael", "David", "Daniel", "Matthew", "Ryan", "Thomas"),
           ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Miller", "Davis", "Clark", "Walker",
            "Young", "Evans", "King")),
    "de": (("Anna", "Lena", "Marie", "Sophie", "Hannah"), ("Lukas", "Felix", "Jonas", "Paul", "Leon"),
           ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann")),
    "fr": (("Camille", "Léa", "Chloé", "Manon"), ("Louis", "Hugo", "Jules", "Arthur"),
           ("Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre")),
    "jp": (("Sakura", "Aoi", "Hina", "Yui"), ("Haruto", "Ren", "Sota", "Yuki"),
           ("Tanaka", "Suzuki", "Sato", "Takahashi", "Watanabe", "Ito", "Yamamoto")),
    "kr": (("Seo-yeon", "Ha-eun", "Ji-woo"), ("Min-jun", "Ji-ho", "Do-yun"),
           ("Kim", "Lee", "Park", "Choi", "Jung", "Kang")),
}
COUNTRY_LANGUAGE = {"US": "en", "CA": "en", "GB": "en", "AU": "en", "DE": "de", "FR": "fr",
                    "JP": "jp", "KR": "kr"}
EMAIL_DOMAINS_CN = (("qq.com", 35), ("163.com", 20), ("126.com", 8), ("sina.com", 5),
                    ("foxmail.com", 5), ("gmail.com", 4), ("outlook.com", 5), ("139.com", 3))
EMAIL_DOMAINS_FOREIGN = (("gmail.com", 40), ("outlook.com", 20), ("yahoo.com", 10),
                         ("icloud.com", 15), ("hotmail.com", 10))
PINYIN = ("wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "xiao", "ming", "hui",
          "jing", "yu", "fei", "lei", "ting", "xin", "yan", "hao", "jun", "mei", "lin", "qing",
          "wen", "yun", "hong", "bo", "chao", "tian", "le", "xue", "na")

REGISTRATION_CHANNELS = (("wechat_mini_program", 0.45), ("alipay", 0.15), ("app", 0.15),
                         ("service_desk", 0.10), ("pos", 0.15))

# Feedback ---------------------------------------------------------------------------
COMMENTS_POSITIVE = (
    "购物环境很好，服务热情，下次还会再来。",
    "{store}的店员很专业，推荐的产品很合适。",
    "商场干净整洁，停车也方便。",
    "会员积分活动很划算，点赞！",
    "美食广场选择很多，味道不错。",
    "活动力度很大，买到了心仪的东西。",
    "带孩子来玩很开心，儿童区设施很好。",
    "{store}新品很多，款式好看。",
)
COMMENTS_NEUTRAL = (
    "整体还可以，就是周末人有点多。",
    "东西不错，价格略贵。",
    "停车场指示不太清楚，其他都挺好。",
    "排队时间有点长，希望多开几个收银台。",
    "{store}的商品种类可以再丰富一些。",
    "优惠券使用规则有点复杂。",
)
COMMENTS_NEGATIVE = (
    "店员态度冷淡，体验很差。",
    "退货流程太麻烦，等了很久。",
    "商品质量有问题，很失望。",
    "会员积分老是不到账，客服也说不清楚。",
    "停车收费太贵了，找车位很难。",
    "{store}的服务太差了，不会再来了。",
    "空调太冷，卫生间也不干净。",
    "排队结账等了二十多分钟。",
    "投诉之后一直没人处理，很不满意。",
)
COMMENT_PHONE = ("请联系我，电话{mobile}。", "麻烦回电{mobile}。", "有问题打我手机{mobile}")
COMMENT_EMAIL = ("我的邮箱是{email}，请把发票发给我。", "可以发邮件到{email}联系我。")

COMPLAINT_CATEGORIES = (("product_quality", 0.22), ("service_attitude", 0.20),
                        ("refund_dispute", 0.15), ("parking", 0.12), ("facilities", 0.12),
                        ("queueing", 0.12), ("other", 0.07))
COMPLAINT_CHANNELS = (("service_desk", 0.35), ("hotline", 0.25), ("wechat", 0.30), ("app", 0.10))
COMPLAINT_TEXT = {
    "product_quality": ("在{store}购买的商品使用不久就出现质量问题，要求退换。",
                        "买回去发现商品有破损，希望{store}给个说法。",
                        "{store}卖的食品已经过期，要求赔偿。"),
    "service_attitude": ("{store}店员服务态度恶劣，说话很不耐烦。",
                         "在{store}咨询问题时店员爱理不理。",
                         "收银员多收了钱还不承认。"),
    "refund_dispute": ("在{store}申请退款被拒，理由不合理。",
                       "退款已经一周还没到账。",
                       "退货时被要求扣除手续费。"),
    "parking": ("停车场收费与公示不符，多收了费用。",
                "地下车库找不到车位，指示牌混乱。",
                "车辆在停车场被刮蹭，要求调取监控。"),
    "facilities": ("{zone}的卫生间没有纸巾，而且很脏。",
                   "{zone}扶梯突然停运，差点摔倒。",
                   "空调温度太低，老人孩子受不了。"),
    "queueing": ("{store}排队结账超过半小时，收银台只开了一个。",
                 "美食广场排队太久，取餐混乱。"),
    "other": ("会员积分被莫名扣除，请核实。",
              "商场广播声音太大。",
              "希望增加母婴室。"),
}
COMPLAINT_PHONE = ("联系电话{mobile}。", "请尽快回复我，电话：{mobile}")

CAMPAIGN_THEMES = {
    1: "新年焕新季", 2: "新春团圆礼遇", 3: "女神节宠爱季", 4: "春日踏青节", 5: "五一欢乐购",
    6: "618年中狂欢", 7: "盛夏清凉节", 8: "七夕浪漫季", 9: "开学季亲子嘉年华", 10: "国庆黄金周盛典",
    11: "双十一会员狂欢", 12: "圣诞暖冬礼遇",
}
SEGMENT_LABELS = {"all": "", "dormant": "老友回归·", "vip": "尊享·", "new_members": "新会员·",
                  "family": "亲子家庭·"}
